package paycenter_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

func TestSmoke(t *testing.T) {
	e := newEnv(t, testdb.SQLite)
	ctx := context.Background()
	info, err := e.client.WxNativePay(ctx, "test903289329", 100, "127.0.0.1", "超级大礼包", "xxxxx", 1508401409765, "http://www.163.com", 7200, "", "", "")
	require.NoError(t, err)
	t.Logf("%+v", info)
	require.Equal(t, 200, e.sandboxPay("test903289329", "success"))
	pr, err := e.client.GetPayResult(ctx, client.WxNative, "test903289329")
	require.NoError(t, err)
	require.True(t, pr.HasPay)
	rr, err := e.client.Refund(ctx, "test903289329", "r1", 40)
	require.NoError(t, err)
	t.Logf("%+v", rr)
	require.EqualValues(t, 1, e.paid.Load())
}
