package core

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Limits of the create and refund parameters (SPEC 2.3, 2.5).
const (
	MaxTotalFee         = 100_000_000_000 // fen
	DefaultTimeExpire   = 86400           // seconds
	MinTimeExpire       = 60
	MaxTimeExpire       = 1_296_000
	maxSubjectChars     = 128
	maxBodyChars        = 128
	maxDescriptionChars = 256
	maxAttachBytes      = 127
	maxRefundDescChars  = 80
	maxReturnURLBytes   = 2048
	maxOpenIDChars      = 128
	maxAnalysisBytes    = 4096
	feeTypeCNY          = "CNY"
	outTradeNoRule      = "must be 8 to 32 letters or digits"
	outRefundNoRule     = "must be 1 to 64 letters or digits"
)

var (
	outTradeNoRE  = regexp.MustCompile(`^[A-Za-z0-9]{8,32}$`)
	outRefundNoRE = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
)

// ValidateOutTradeNo checks the outTradeNo rule.
func ValidateOutTradeNo(s string) error {
	if s == "" {
		return missing("outTradeNo")
	}
	if !outTradeNoRE.MatchString(s) {
		return invalid("outTradeNo", outTradeNoRule)
	}
	return nil
}

// ValidateOutRefundNo checks the outRefundNo rule.
func ValidateOutRefundNo(s string) error {
	if s == "" {
		return missing("outRefundNo")
	}
	if !outRefundNoRE.MatchString(s) {
		return invalid("outRefundNo", outRefundNoRule)
	}
	return nil
}

// ValidateChannel checks that code is one of the document's channel codes.
func ValidateChannel(code channels.Code) error {
	if code == "" {
		return missing("channel")
	}
	if !code.Valid() {
		return invalid("channel", "must be one of WX_NATIVE, WX_JSAPI, WX_APP, WX_MWEB, ALI_WEB, ALI_APP, ALI_WAP")
	}
	return nil
}

// normalizeCharge fills defaults and checks every rule of SPEC 2.3, in the
// document's parameter order (the first parameter that breaks one is the
// one named), in three parts.
func normalizeCharge(p *paytype.CreateChargeParams, app *paytype.App) error {
	if err := checkOrder(p); err != nil {
		return err
	}
	if err := checkSubjectAndTimes(p); err != nil {
		return err
	}
	return checkExtras(p, app)
}

// checkOrder checks channel, outTradeNo, feeType, totalFee and clientIp.
func checkOrder(p *paytype.CreateChargeParams) error {
	if err := ValidateChannel(p.Channel); err != nil {
		return err
	}
	if err := ValidateOutTradeNo(p.OutTradeNo); err != nil {
		return err
	}
	if p.FeeType == "" {
		p.FeeType = feeTypeCNY
	} else if p.FeeType != feeTypeCNY {
		return invalid("feeType", "must be CNY")
	}
	if p.TotalFee == 0 {
		return missing("totalFee")
	}
	if p.TotalFee < 1 || p.TotalFee > MaxTotalFee {
		return invalid("totalFee", "must be an integer number of fen from 1 to %d", int64(MaxTotalFee))
	}
	if p.ClientIP == "" {
		return missing("clientIp")
	}
	if a, err := netip.ParseAddr(p.ClientIP); err != nil || a.Zone() != "" {
		return invalid("clientIp", "must be an IPv4 or IPv6 address")
	}
	return nil
}

// checkSubjectAndTimes checks subject, body, created and timeExpire.
func checkSubjectAndTimes(p *paytype.CreateChargeParams) error {
	if err := text("subject", p.Subject, true, maxSubjectChars); err != nil {
		return err
	}
	if err := text("body", p.Body, true, maxBodyChars); err != nil {
		return err
	}
	if p.Created == 0 {
		return missing("created")
	}
	if p.Created < 0 {
		return invalid("created", "must be a time in milliseconds since the epoch")
	}
	if err := notSeconds("created", p.Created); err != nil {
		return err
	}
	if p.TimeExpire == 0 {
		p.TimeExpire = DefaultTimeExpire
	} else if p.TimeExpire < MinTimeExpire || p.TimeExpire > MaxTimeExpire {
		return invalid("timeExpire", "must be from %d to %d seconds", MinTimeExpire, MaxTimeExpire)
	}
	return nil
}

// checkExtras checks analysis, attach, description, returnUrl and
// wx.openid.
func checkExtras(p *paytype.CreateChargeParams, app *paytype.App) error {
	if p.Analysis != "" {
		var obj map[string]any
		if len(p.Analysis) > maxAnalysisBytes || json.Unmarshal([]byte(p.Analysis), &obj) != nil || obj == nil {
			return invalid("analysis", "must be a JSON object of at most %d bytes", maxAnalysisBytes)
		}
	}
	if len(p.Attach) > maxAttachBytes || !utf8.ValidString(p.Attach) || strings.ContainsFunc(p.Attach, isControl) {
		return invalid("attach", "must be UTF-8 text without control characters, of at most %d bytes", maxAttachBytes)
	}
	if err := text("description", p.Description, false, maxDescriptionChars); err != nil {
		return err
	}
	if p.ReturnURL != "" {
		if err := checkReturnURL(p.ReturnURL, app.ReturnURLHosts); err != nil {
			return err
		}
	}
	if p.Channel == channels.WxJsapi && p.OpenID == "" {
		return missing("wx.openid")
	}
	return text("wx.openid", p.OpenID, false, maxOpenIDChars)
}

// text checks a free-text parameter: valid UTF-8, no control characters,
// at most max characters.
func text(param, s string, required bool, max int) error {
	if s == "" {
		if required {
			return missing(param)
		}
		return nil
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
		return invalid(param, "must be UTF-8 text without control characters")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid(param, "must be at most %d characters (got %d)", max, n)
	}
	return nil
}

// isControl reports an ASCII control character: no text parameter may hold
// one (PostgreSQL refuses NUL in text, and none belongs in an order).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func checkReturnURL(raw string, hosts []string) error {
	if len(raw) > maxReturnURLBytes {
		return invalid("returnUrl", "must be at most %d bytes", maxReturnURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return invalid("returnUrl", "must be an absolute http or https URL")
	}
	if len(hosts) == 0 {
		return nil
	}
	h := strings.ToLower(u.Hostname())
	for _, allowed := range hosts {
		if h == strings.ToLower(allowed) {
			return nil
		}
	}
	return invalid("returnUrl", "host %q is not one of the hosts allowed for this app", h)
}

// chargeDiffers names the first parameter in which an earlier charge differs
// from p, or "" when they are the same request. created, clientIp and
// analysis describe the attempt rather than the order, so a retry may
// change them.
func chargeDiffers(p *paytype.CreateChargeParams, c *models.Charge) string {
	switch {
	case p.Channel != c.Channel:
		return "channel"
	case p.TotalFee != c.TotalFee:
		return "totalFee"
	case p.FeeType != c.FeeType:
		return "feeType"
	case p.Subject != c.Subject:
		return "subject"
	case p.Body != c.Body:
		return "body"
	case p.TimeExpire != c.TimeExpire:
		return "timeExpire"
	case p.Attach != c.Attach:
		return "attach"
	case p.Description != c.Description:
		return "description"
	case p.ReturnURL != c.ReturnURL:
		return "returnUrl"
	case p.OpenID != c.OpenID:
		return "wx.openid"
	}
	return ""
}

func validateRefund(p *paytype.RefundParams) error {
	if err := ValidateOutTradeNo(p.OutTradeNo); err != nil {
		return err
	}
	if err := ValidateOutRefundNo(p.OutRefundNo); err != nil {
		return err
	}
	if p.RefundFee == 0 {
		return missing("refundFee")
	}
	if p.RefundFee < 0 || p.RefundFee > MaxTotalFee {
		return invalid("refundFee", "must be an integer number of fen from 1 to %d", int64(MaxTotalFee))
	}
	return text("refundDesc", p.RefundDesc, false, maxRefundDescChars)
}
