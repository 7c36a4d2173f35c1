// Package service holds what every Kinship service's Run does the same
// way: checking the settings they share; the Runtime they run on (the
// migrated database, the outbox relayed to Kafka, the HTTP server with
// its readiness check); verifying API keys through the members service;
// checking the ids of another service's records a call names (Refs);
// consuming a feed of events per community; running periodic work. Each
// service keeps only what is its own: its stores, APIs, feeds and work.
package service
