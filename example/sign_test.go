package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signVector is an entry of ../testdata/sign.json.
type signVector struct {
	Name   string            `json:"name"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Params map[string]string `json:"params"`
	Secret string            `json:"secret"`
	SignV1 string            `json:"signV1"`
	SignV2 string            `json:"signV2"`
}

func sign(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := dispatch(context.Background(), append([]string{"sign"}, args...), &out)
	return strings.TrimSpace(out.String()), err
}

// TestSignVectors: the sign subcommand reproduces every test vector, v2
// when the parameters say version=v2.
func TestSignVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/sign.json")
	require.NoError(t, err)
	var vs []signVector
	require.NoError(t, json.Unmarshal(raw, &vs))
	require.NotEmpty(t, vs)
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			args := []string{"-key", v.Params["key"], "-secret", v.Secret, v.Method, v.Path}
			for k, val := range v.Params {
				if k != "key" {
					args = append(args, k+"="+val)
				}
			}
			got, err := sign(t, args...)
			require.NoError(t, err)
			want := v.SignV1
			if v.Params["version"] == "v2" {
				want = v.SignV2
			}
			assert.Equal(t, want, got)
		})
	}
}

// TestSignDefaultsAndErrors: key and secret come from the environment;
// bad arguments say what is wrong.
func TestSignDefaultsAndErrors(t *testing.T) {
	t.Setenv("PAYCENTER_KEY", "e3047bcd-2w81-4a2a-a321-c75e64329381")
	t.Setenv("PAYCENTER_SECRET", "52ewc-c675-4944-af44-f4fdsww332d88")
	got, err := sign(t, "post", "/test/echo", "expires=30000", "param=test", "timestamp=1508739061000")
	require.NoError(t, err)
	assert.Equal(t, "4a1c1cefc91e2c7f7e5a37bd256254c3", got, "the document's example, key and secret from the environment")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"POST"}, "METHOD and PATH are required"},
		{[]string{"PUT", "/api/charges"}, "METHOD must be GET or POST"},
		{[]string{"POST", "api/charges"}, "PATH must be a path starting with /"},
		{[]string{"GET", "/api/charges/pay-result?channel=WX_NATIVE"}, "without a query"},
		{[]string{"POST", "/api/charges", "channel"}, `parameter "channel" must be name=value`},
		{[]string{"POST", "/api/charges", "key=x"}, "key comes from -key"},
		{[]string{"POST", "/api/charges", "a=1", "a=2"}, "a is given twice"},
		{[]string{"-curl", "http://127.0.0.1:8080/pay", "POST", "/api/charges"}, "the BasePath belongs in PATH"},
	} {
		_, err := sign(t, c.args...)
		require.Error(t, err, c.args)
		assert.Contains(t, err.Error(), c.want)
	}
	t.Setenv("PAYCENTER_SECRET", "")
	_, err = sign(t, "POST", "/api/charges")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-secret is required (or set PAYCENTER_SECRET)")
}

// TestSignCurl: the -curl line, run by a shell, is a request the running
// example accepts, text with spaces, quotes and Chinese included.
func TestSignCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	t.Chdir(t.TempDir())
	addr, banner := start(t, "-config", writeConfig(t, "addr: 127.0.0.1:0\n"))
	m := devAppLine.FindStringSubmatch(banner)
	require.NotNil(t, m, banner)
	base := "http://" + addr
	curl := func(args ...string) map[string]any {
		t.Helper()
		line, err := sign(t, append([]string{"-key", m[1], "-secret", m[2], "-curl", base}, args...)...)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(line, "curl -sS "), line)
		out, err := exec.Command("sh", "-c", line).Output()
		require.NoError(t, err, line)
		var env map[string]any
		require.NoError(t, json.Unmarshal(out, &env), "%s", out)
		return env
	}
	created := curl("POST", "/api/charges", "channel=WX_NATIVE", "outTradeNo=curl00000001", "totalFee=1999",
		"clientIp=127.0.0.1", "subject=超级大礼包 'gift' box", `body=a "b" & c*d~e/f`, "created=1700000000000")
	require.NotContains(t, created, "errorCode", created)
	params := created["responseParams"].(map[string]any)
	assert.Equal(t, base+"/sandbox/cashier/dev/curl00000001", params["channelParams"].(map[string]any)["codeUrl"])

	result := curl("GET", "/api/charges/pay-result", "channel=WX_NATIVE", "outTradeNo=curl00000001")
	require.NotContains(t, result, "errorCode", result)
	assert.Equal(t, false, result["responseParams"].(map[string]any)["hasPay"])
}
