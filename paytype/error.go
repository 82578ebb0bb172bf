package paytype

import (
	"errors"
	"fmt"
)

// Error is an error answer of the pay center: the document's errorCode and
// errorMsg. The server returns it from every operation; the client returns
// it for an error envelope (RequestID set) and for an answer it could not
// use (Code 0, HTTPStatus set).
type Error struct {
	// Code is the errorCode; 0 (client side) when the answer was not an
	// error envelope.
	Code Code
	// Msg is the errorMsg: it names the parameter and the rule, or the
	// order, in clear English.
	Msg string
	// RequestID is the requestId of the answer (client side; 0 when
	// unknown). Quote it when reporting a problem.
	RequestID int64
	// HTTPStatus is the HTTP status of an answer that was not a valid
	// envelope (client side).
	HTTPStatus int
	// Err is the internal cause of a CodeInternal error (server side): it
	// is logged, never shown to the merchant.
	Err error
}

// Error implements error: the code, the message, and the internal cause
// or the request id when there is one.
func (e *Error) Error() string {
	switch {
	case e.Code == 0:
		return fmt.Sprintf("paycenter: %s (HTTP %d, requestId %d)", e.Msg, e.HTTPStatus, e.RequestID)
	case e.Err != nil:
		return fmt.Sprintf("paycenter %d: %s: %v", e.Code, e.Msg, e.Err)
	case e.RequestID != 0:
		return fmt.Sprintf("paycenter %d: %s (requestId %d)", e.Code, e.Msg, e.RequestID)
	}
	return fmt.Sprintf("paycenter %d: %s", e.Code, e.Msg)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Code, or an *Error with e's code and no
// message: errors.Is(err, paytype.CodeExists).
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Code:
		return e.Code != 0 && t == e.Code
	case *Error:
		return t.Code == e.Code && t.Msg == ""
	}
	return false
}

// CodeOf returns the Code of err if it is (or wraps) an *Error, else 0.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
