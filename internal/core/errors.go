package core

import (
	"errors"
	"fmt"

	"github.com/gopaycenter/paycenter/paytype"
)

// The pay center's errors are *paytype.Error: the document's code and a
// message for the merchant that names the parameter and the rule. Err, when
// set, is the internal cause; it is logged, never shown.

func newErr(code paytype.Code, format string, args ...any) *paytype.Error {
	return &paytype.Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func missing(param string) *paytype.Error {
	return newErr(paytype.CodeMissing, "%s is required", param)
}

func invalid(param, rule string, args ...any) *paytype.Error {
	return newErr(paytype.CodeInvalid, "%s %s", param, fmt.Sprintf(rule, args...))
}

// internal wraps an unexpected failure as 10001; the cause is logged by the
// renderer and never shown.
func internal(err error) *paytype.Error {
	var e *paytype.Error
	if errors.As(err, &e) {
		return e
	}
	return &paytype.Error{Code: paytype.CodeInternal, Msg: "internal error; it has been logged, please retry", Err: err}
}

// internal0 is internal for a possibly nil error (internal's nil would be
// a non-nil error interface).
func internal0(err error) error {
	if err == nil {
		return nil
	}
	return internal(err)
}

// AsError returns err as a *paytype.Error, wrapping anything else as 10001.
func AsError(err error) *paytype.Error { return internal(err) }
