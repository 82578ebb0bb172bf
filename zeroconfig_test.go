package paycenter_test

import (
	"context"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
)

// TestZeroConfig: a zero Config mounts a development pay center: SQLite
// file paycenter.db in the working directory, sandbox channels, and a
// generated app.
func TestZeroConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	pc, err := paycenter.Mount(gin.New(), paycenter.Config{})
	require.NoError(t, err)
	defer pc.Close()
	_, err = os.Stat("paycenter.db")
	require.NoError(t, err)
	assert.True(t, pc.SandboxEnabled())
	apps := pc.Apps()
	require.Len(t, apps, 1)
	assert.Equal(t, "dev", apps[0].ID)
	assert.Len(t, apps[0].Secret, 48)
	res, err := pc.CreateCharge(context.Background(), "dev", createParams(channels.WxNative, "zero00000001", 1))
	require.NoError(t, err)
	assert.Equal(t, "/sandbox/cashier/dev/zero00000001", res.ChannelParams["codeUrl"])
}

// TestConfigErrors: New refuses a bad Config with an error that names the
// field, and never panics.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  paycenter.Config
		want string
	}{
		{paycenter.Config{Channels: []channels.Channel{wechatOnly{}}}, "PublicURL is required"},
		{paycenter.Config{Channels: []channels.Channel{wechatOnly{}}, PublicURL: "https://shop.example.com"}, "Apps is empty"},
		{paycenter.Config{PublicURL: "shop.example.com"}, "PublicURL"},
		{paycenter.Config{BasePath: "pay"}, "BasePath"},
		{paycenter.Config{TablePrefix: "pay-"}, "TablePrefix"},
		{paycenter.Config{LatePayment: "ignore"}, "LatePayment"},
		{paycenter.Config{Apps: []paycenter.App{{ID: "a/b", Key: "k", Secret: "s"}}}, "Apps[0].ID"},
		{paycenter.Config{Apps: []paycenter.App{{ID: "a", Key: "k"}}}, "Key and Secret are required"},
		{paycenter.Config{Apps: []paycenter.App{{ID: "a", Key: "k", Secret: "s"}, {ID: "b", Key: "k", Secret: "t"}}}, "Key is used by another app"},
		{paycenter.Config{Apps: []paycenter.App{{ID: "a", Key: "k", Secret: "s", MinSignVersion: 3}}}, "MinSignVersion"},
		{paycenter.Config{Hooks: []hooks.Hook{hooks.Base{}}}, "implements none"},
	} {
		t.Run(c.want, func(t *testing.T) {
			t.Chdir(t.TempDir())
			_, err := paycenter.New(c.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
