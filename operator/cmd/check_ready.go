package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// checkReady GETs url and succeeds only on 200 OK. The operator's image
// holds nothing but its binary, so `helm test` runs the binary with
// -check-ready against the operator's Service.
func checkReady(ctx context.Context, client *http.Client, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("check %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("check %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("check %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
