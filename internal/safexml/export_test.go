package safexml

import "reflect"

// FastDecode is the fast path alone, for the differential tests.
func FastDecode(data []byte, v any) (declined bool, err error) {
	return fastDecode(data, v, Default)
}

// EncodesItself tells whether EncodeElement writes values of t itself
// rather than handing them to encoding/xml whole.
func EncodesItself(t reflect.Type) bool { return encPlanOf(t).kind == encStruct }
