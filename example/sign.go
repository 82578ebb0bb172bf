package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/gopaycenter/paycenter/client"
)

// The sign subcommand: the signature of one request, for curl sessions and
// for checking a client written in another language.
//
//	go run ./example sign [-key K] [-secret S] [-curl BASE] METHOD PATH [name=value ...]

const signUsage = `usage: go run ./example sign [-key K] [-secret S] [-curl BASE] METHOD PATH [name=value ...]

Prints the sign of a pay center request. METHOD is GET or POST; PATH is the
path the server receives, BasePath included (e.g. /api/charges); the
name=value pairs are every query or form parameter as sent, plus the common
parameters sent (timestamp, expires, version, nonce). key is added to the
signed parameters (requests send it, as a header or a parameter). The
signature is v1 (MD5), or v2 (HMAC-SHA256) when version=v2 is among the
pairs.

-key and -secret default to $PAYCENTER_KEY and $PAYCENTER_SECRET, which the
banner of "go run ./example" prints for its development app. With -curl
BASE (scheme://host:port, e.g. http://127.0.0.1:8080) it prints a ready curl
command instead of the sign.
`

// runSign implements the sign subcommand.
func runSign(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), signUsage)
		fs.PrintDefaults()
	}
	key := fs.String("key", os.Getenv("PAYCENTER_KEY"), "the app's `key` (default $PAYCENTER_KEY)")
	secret := fs.String("secret", os.Getenv("PAYCENTER_SECRET"), "the app's `secret` (default $PAYCENTER_SECRET)")
	curl := fs.String("curl", "", "print a curl command for the pay center at `BASE` instead of the sign")
	if err := fs.Parse(args); err != nil {
		return err
	}
	req, err := parseSignArgs(*key, *secret, fs.Args())
	if err != nil {
		return fmt.Errorf("sign: %w (go run ./example sign -h for help)", err)
	}
	sig := client.Sign(req.version(), req.method, req.path, req.signed(), *secret)
	if *curl == "" {
		fmt.Fprintln(stdout, sig)
		return nil
	}
	line, err := req.curl(*curl, sig)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	fmt.Fprintln(stdout, line)
	return nil
}

// signRequest is a request to sign: parameters in the order given.
type signRequest struct {
	key, method, path string
	names             []string
	values            map[string]string
}

var paramNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.]*$`)

func parseSignArgs(key, secret string, args []string) (*signRequest, error) {
	switch {
	case key == "":
		return nil, errors.New("-key is required (or set PAYCENTER_KEY)")
	case secret == "":
		return nil, errors.New("-secret is required (or set PAYCENTER_SECRET)")
	case len(args) < 2:
		return nil, errors.New("METHOD and PATH are required, e.g. POST /api/charges")
	}
	r := &signRequest{key: key, method: strings.ToUpper(args[0]), path: args[1], values: map[string]string{}}
	if r.method != "GET" && r.method != "POST" {
		return nil, fmt.Errorf("METHOD must be GET or POST, not %q", args[0])
	}
	if !strings.HasPrefix(r.path, "/") || strings.ContainsAny(r.path, "?#") {
		return nil, fmt.Errorf("PATH must be a path starting with / without a query, such as /api/charges, not %q (parameters go after it as name=value)", r.path)
	}
	for _, a := range args[2:] {
		name, value, ok := strings.Cut(a, "=")
		switch {
		case !ok || !paramNameRE.MatchString(name):
			return nil, fmt.Errorf("parameter %q must be name=value", a)
		case name == "key" || name == "sign":
			return nil, fmt.Errorf("parameter %q: %s is not a name=value pair here (key comes from -key; sign is the output)", a, name)
		}
		if _, dup := r.values[name]; dup {
			return nil, fmt.Errorf("parameter %s is given twice (the pay center refuses a name given twice)", name)
		}
		r.names = append(r.names, name)
		r.values[name] = value
	}
	return r, nil
}

// version is the signature version the pay center will check: v2 when
// the request says version=v2 (or v2.0), v1 otherwise.
func (r *signRequest) version() int {
	if v := r.values["version"]; v == "v2" || v == "v2.0" {
		return client.SignV2
	}
	return client.SignV1
}

// signed is every signed parameter: the pairs and key.
func (r *signRequest) signed() map[string]string {
	m := map[string]string{"key": r.key}
	for k, v := range r.values {
		m[k] = v
	}
	return m
}

// curl returns a curl command sending r with key and sign as headers (as
// the document's examples do) and the pairs URL-encoded by curl: in the
// query for GET, in the form body for POST.
func (r *signRequest) curl(base, sig string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", fmt.Errorf("-curl %q must be scheme://host[:port] (the BasePath belongs in PATH)", base)
	}
	parts := []string{"curl", "-sS"}
	if r.method == "GET" {
		parts = append(parts, "-G")
	}
	parts = append(parts, shellQuote(u.Scheme+"://"+u.Host+r.path),
		"-H", shellQuote("key: "+r.key), "-H", shellQuote("sign: "+sig))
	for _, name := range r.names {
		parts = append(parts, "--data-urlencode", shellQuote(name+"="+r.values[name]))
	}
	return strings.Join(parts, " "), nil
}

var shellSafeRE = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if shellSafeRE.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
