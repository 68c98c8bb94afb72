package safexml

// FastDecode is the fast path alone, for the differential tests.
func FastDecode(data []byte, v any) (declined bool, err error) {
	return fastDecode(data, v, Default)
}
