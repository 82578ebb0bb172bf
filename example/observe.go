package main

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gopaycenter/paycenter"
)

// The example's platform routes, outside the pay center's BasePath and not
// behind the admin token (see README, "Observability").
const (
	metricsPath = "/metrics"
	healthPath  = "/healthz"
)

// healthTimeout bounds GET /healthz's database ping and queries: a probe
// gets an answer, 503, even when the database hangs.
const healthTimeout = 5 * time.Second

// newMetrics returns the meter provider for Config.MeterProvider and the
// handler of GET /metrics that serves what it records as Prometheus text.
// The pay center speaks OpenTelemetry, so its instruments reach Prometheus
// through the OTel Prometheus exporter, registered in a registry of the
// example's own (with the Go runtime and process collectors) rather than
// the process-wide default one. The otel globals are left alone: the
// pay center gets its provider through its Config, and tests run several
// examples in one process.
func newMetrics() (*sdkmetric.MeterProvider, http.Handler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(),
		// paycenter.charges.created → paycenter_charges_created_total,
		// paycenter.api.request.duration (s) → ..._duration_seconds.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		return nil, nil, err
	}
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}

// registerObservability serves GET /metrics (metrics) and GET /healthz:
// pc.Health as JSON, 200 when it is Healthy, 503 otherwise.
func registerObservability(r gin.IRouter, pc *paycenter.PayCenter, metrics http.Handler) {
	r.GET(metricsPath, gin.WrapH(metrics))
	r.GET(healthPath, func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), healthTimeout)
		defer cancel()
		h := pc.Health(ctx)
		status := http.StatusOK
		if !h.Healthy() {
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, h)
	})
}
