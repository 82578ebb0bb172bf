// Package paytype holds the vocabulary of the pay center's API, shared by
// the server (package paycenter, which re-exports what its quick start
// uses) and the Go client (package client): the merchant application
// ([App]), the parameters and answers of each operation
// ([CreateChargeParams], [PayResult], [RefundResult], ...), the error
// codes ([Code]) and the error type ([Error]).
//
// It is a leaf: it imports only the channel contract and the models, so
// every package can name its types. Amounts are int64 fen; times in
// answers are milliseconds since the epoch, as on the wire.
//
// Errors work with errors.Is and errors.As on both sides:
//
//	if errors.Is(err, paytype.CodeOverLimit) { ... }   // the refund exceeds the balance
//	var pe *paytype.Error
//	if errors.As(err, &pe) { log.Print(pe.Code, pe.Msg, pe.RequestID) }
package paytype
