package paytype

import "time"

// WorkerState says whether the background workers run in this process.
type WorkerState string

// Worker states.
const (
	// WorkersRunning: Start (or Mount) started them and Stop has not
	// stopped them.
	WorkersRunning WorkerState = "running"
	// WorkersStopped: they should run here (Config.Workers.Disabled is
	// false) but do not: Start was not called yet, or Stop was.
	WorkersStopped WorkerState = "stopped"
	// WorkersDisabled: Config.Workers.Disabled, and Start was not called;
	// another process is expected to run them.
	WorkersDisabled WorkerState = "disabled"
)

// Health is what PayCenter.Health found, for a readiness probe and a
// dashboard. Thresholds for the delivery backlog are the host's to choose:
// OldestDueDelivery grows when webhooks fail or no process runs the
// workers; DeadDeliveries when a merchant's endpoint gave up for good.
type Health struct {
	// Database is nil when the database answered, its error otherwise.
	Database error `json:"-"`
	// DatabaseOK is Database == nil (for JSON).
	DatabaseOK bool        `json:"databaseOk"`
	Workers    WorkerState `json:"workers"`
	// PendingDeliveries counts the outbox entries not yet delivered
	// (webhooks and after-commit hooks), due or scheduled for a retry.
	PendingDeliveries int64 `json:"pendingDeliveries"`
	// OldestDueDelivery is how long the earliest due delivery has waited
	// past its due time (0 when none is due).
	OldestDueDelivery time.Duration `json:"oldestDueDeliveryNanos"`
	// DeadDeliveries counts the outbox entries that ran out of retries
	// (PayCenter.Redeliver sends one again).
	DeadDeliveries int64 `json:"deadDeliveries"`
}

// Healthy reports whether the database answered and the workers are not
// stopped where they should run.
func (h Health) Healthy() bool { return h.Database == nil && h.Workers != WorkersStopped }
