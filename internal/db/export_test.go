package db

// Copies is the number of COPYs InsertRows has sent.
func (d *DB) Copies() int64 { return d.copies.Load() }

// InsertTarget and UseCopy expose how InsertRows picks COPY.
var (
	InsertTarget = insertTarget
	UseCopy      = useCopy
)
