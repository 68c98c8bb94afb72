package adapters

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// DecodeStrict reads a closed-contract JSON request into v. Every failure
// names the field: an unknown key or a value of the wrong type is a 422 on
// that field, a syntax error a 400 with its offset.
func DecodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		return &Error{Status: http.StatusBadRequest, Detail: "request body: trailing data after the JSON object"}
	}
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return Invalid(typeErr.Field, "must be %s, got JSON %s", typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return &Error{Status: http.StatusBadRequest, Detail: "request body is not valid JSON: " + err.Error()}
	}
	// encoding/json reports an unknown key only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return Invalid(strings.Trim(name, `"`), "is not a field of this request")
	}
	return &Error{Status: http.StatusBadRequest, Detail: "request body: " + err.Error()}
}
