package kafka

import (
	"context"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
)

// HeaderCarrier lets an OpenTelemetry propagator read and write W3C
// traceparent, tracestate and baggage in Kafka record headers.
type HeaderCarrier struct {
	Headers *[]kafkago.Header
}

var _ propagation.TextMapCarrier = HeaderCarrier{}

// Get returns the last value of key.
func (c HeaderCarrier) Get(key string) string {
	hs := *c.Headers
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return string(hs[i].Value)
		}
	}
	return ""
}

// Set replaces every value of key with value.
func (c HeaderCarrier) Set(key, value string) {
	hs := (*c.Headers)[:0:0]
	for _, h := range *c.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	*c.Headers = append(hs, kafkago.Header{Key: key, Value: []byte(value)})
}

// Keys lists the header keys.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(*c.Headers))
	for _, h := range *c.Headers {
		keys = append(keys, h.Key)
	}
	return keys
}

// Inject writes ctx's trace context into headers with p.
func Inject(ctx context.Context, p propagation.TextMapPropagator, headers *[]kafkago.Header) {
	p.Inject(ctx, HeaderCarrier{Headers: headers})
}

// Extract returns ctx carrying the trace context found in headers.
func Extract(ctx context.Context, p propagation.TextMapPropagator, headers []kafkago.Header) context.Context {
	return p.Extract(ctx, HeaderCarrier{Headers: &headers})
}
