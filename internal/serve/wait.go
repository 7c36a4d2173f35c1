package serve

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// WaitReady polls baseURL/readyz until it answers 200 or ctx ends.
func WaitReady(ctx context.Context, baseURL string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/readyz", nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready (%s): %w", baseURL, last, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}
