package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goTypeName matches what a Go type name looks like in a message.
var goTypeName = regexp.MustCompile(`main\.|fileConfig|appConfig|\bint\b|\bbool\b|time\.Duration|\[\]|!!|reflect|unmarshal`)

// TestConfigErrors: every kind of mistake in the -config file is reported
// with the file, the right line, the key path and the rule, suggests the
// known key when one is close, and shows no Go type names.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PAYCENTER_EXAMPLE_CONNS", "12")
	for _, c := range []struct {
		name, yaml string
		want       []string // each must be in the message
	}{
		{"unknown key, another case", "addr: 127.0.0.1:8080\npublicUrl: http://192.168.1.20:8080\n",
			[]string{"line 2: publicUrl is not a known key; did you mean publicURL?"}},
		{"unknown nested key", "apps:\n  - id: \"11\"\n    key: k\n    secret: s\n    notifyUrl: http://127.0.0.1:9000/webhook\n",
			[]string{"line 5: apps[0].notifyUrl is not a known key; did you mean notifyURL?"}},
		{"typo", "addr: x\ndatabse:\n  driver: sqlite\n", []string{"line 2: databse is not a known key; did you mean database?"}},
		{"typo in a channel block", "# WeChat Pay\nwechat:\n  mchId: \"1230000109\"\n  apiv3Key: x\n",
			[]string{"line 3: wechat.mchId is not a known key; did you mean mchID?", "line 4: wechat.apiv3Key is not a known key; did you mean apiV3Key?"}},
		{"nothing close", "colour: green\n", []string{"line 1: colour is not a known key (known keys here: addr, publicURL, basePath, database,"}},
		{"number, after comments and blank lines", "# database\n\n\ndatabase:\n  driver: sqlite\n  maxOpenConns: lots\n",
			[]string{"line 6: database.maxOpenConns must be a whole number, not \"lots\""}},
		{"duration", "webhook:\n  schedule: [15s, 1m]\n  timeout: 10x\n", []string{"line 3: webhook.timeout must be a duration like 10s"}},
		{"bare number is not a duration", "workers:\n  pollInterval: 5\n", []string{"line 2: workers.pollInterval must be a duration like 10s, 1m or 1h30m, not \"5\""}},
		{"duration in a list", "webhook:\n  schedule: [15s, soon]\n", []string{"line 2: webhook.schedule[1] must be a duration"}},
		{"bool", "sandbox: maybe\n", []string{"line 1: sandbox must be true or false, not \"maybe\""}},
		{"list", "apps:\n  - id: \"1\"\n    returnURLHosts: shop.example.com\n", []string{"line 3: apps[0].returnURLHosts must be a list"}},
		{"mapping where a list is wanted", "apps: {id: \"1\"}\n", []string{"line 1: apps must be a list", "not a mapping"}},
		{"list where a mapping is wanted", "database: [sqlite]\n", []string{"line 1: database must be a mapping of keys (driver, dsn, maxOpenConns, maxIdleConns, connMaxIdleTime, connMaxLifetime), not a list"}},
		{"one of", "addr: x\nlatePayment: ignore\n", []string{"line 2: latePayment must be accept, refund, not \"ignore\""}},
		{"driver", "database:\n  driver: oracle\n", []string{"line 2: database.driver must be sqlite, postgres, mysql, not \"oracle\""}},
		{"twice", "addr: a\nbasePath: /pay\naddr: b\n", []string{"line 3: addr is given twice (first on line 1)"}},
		{"unset variable", "# addr\naddr: ${PAYCENTER_EXAMPLE_UNSET_VAR}\n", []string{"line 2: addr refers to ${PAYCENTER_EXAMPLE_UNSET_VAR}, which is not set"}},
		{"several problems at once", "publicUrl: x\nsandbox: maybe\n", []string{"line 1: publicUrl", "line 2: sandbox"}},
		{"syntax: unclosed list", "# c\n\naddr: [1\n", []string{"line 3, column 7:", "addr: [1"}},
		{"syntax: tab", "# c\naddr: x\n\tbasePath: /pay\n", []string{"line 3, column 1:"}},
		{"syntax: unclosed quote", "addr: x\npublicURL: \"http://x\n", []string{"line 2, column 12:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(c.yaml), 0o600))
			_, err := loadConfig(path)
			require.Error(t, err)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, path+" line "), "names the file and the line:\n%s", msg)
			for _, w := range c.want {
				assert.Contains(t, msg, w)
			}
			assert.NotRegexp(t, goTypeName, strings.TrimPrefix(msg, path), "no Go type names")
		})
	}
}

// TestConfigValues: values the checks accept decode as they should.
func TestConfigValues(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	t.Setenv("PC_SECRET", "s: {not yaml")
	t.Setenv("PC_CONNS", "12")
	t.Setenv("PC_NUMERIC_SECRET", "0123")
	c, err := loadConfig(write("expand.yaml", "apps:\n  - id: \"1\"\n    key: k\n    secret: ${PC_SECRET}\n"+
		"  - id: \"2\"\n    key: ${PC_NUMERIC_SECRET}\n    secret: x${PC_NUMERIC_SECRET}\n"+
		"database:\n  maxOpenConns: ${PC_CONNS}\nwebhook:\n  timeout: 2s\n  schedule: [1s, 1m]\n  allowPrivateNetworks: false\nsandbox:\n"))
	require.NoError(t, err)
	assert.Equal(t, "s: {not yaml", c.Apps[0].Secret, "values are expanded after parsing")
	assert.Equal(t, "0123", c.Apps[1].Key, "an expanded text value stays text")
	assert.Equal(t, "x0123", c.Apps[1].Secret)
	assert.Equal(t, 12, c.Database.MaxOpenConns, "an expanded plain value is typed from its text")
	assert.Equal(t, 2*time.Second, c.Webhook.Timeout)
	assert.Equal(t, []time.Duration{time.Second, time.Minute}, c.Webhook.Schedule)
	require.NotNil(t, c.Webhook.AllowPrivateNetworks)
	assert.False(t, *c.Webhook.AllowPrivateNetworks)
	assert.Nil(t, c.Sandbox, "an empty value keeps the default")

	c, err = loadConfig(write("empty.yaml", ""))
	require.NoError(t, err)
	assert.Empty(t, c.Addr)

	c, err = loadConfig("testdata/example-config.yaml")
	require.NoError(t, err, "the documented file")
	assert.Equal(t, "11", c.Apps[0].ID)

	// Errors found after loading name the key too.
	err = run(context.Background(), []string{"-config", write("bad.yaml", "addr: 127.0.0.1:0\nlatePayment: refund\ndatabase:\n  driver: postgres\n  dsn: \"host=/nonexistent\"\n")},
		&syncBuffer{}, runHooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "postgres")
	err = run(context.Background(), []string{"-config", write("addr.yaml", "addr: 8080\n")}, &syncBuffer{}, runHooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `addr "8080" must be host:port`)
}
