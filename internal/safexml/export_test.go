package safexml

// FastDecode is the fast path alone, for the differential tests.
var FastDecode = fastDecode
