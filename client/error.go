package client

import (
	"errors"

	"github.com/gopaycenter/paycenter/paytype"
)

// Error is a failure answered by the pay center, or an answer the client
// could not understand: the server's own error type, [paytype.Error].
//
// For an error envelope ({"requestId","errorCode","errorMsg"}) Code is the
// errorCode, Msg the errorMsg and RequestID the requestId. For an answer
// that is not HTTP 200 or not a valid envelope, Code is 0, HTTPStatus is
// the HTTP status, Msg says what was wrong, and RequestID is taken from the
// X-Request-Id header when present.
//
//	if errors.Is(err, paytype.CodeExists) { ... }
//	var pe *client.Error
//	if errors.As(err, &pe) { log.Print(pe.Code, pe.Msg, pe.RequestID) }
type Error = paytype.Error

// Code is an errorCode of the pay center; the constants are in package
// paytype (paytype.CodeExists, ...), shared with the server.
type Code = paytype.Code

// IsCode reports whether err is (or wraps) an [*Error] with the given code:
// errors.Is(err, code).
func IsCode(err error, code Code) bool { return errors.Is(err, code) }
