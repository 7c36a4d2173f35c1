// Package service holds what every Kinship service's Run does the same
// way: checking the settings they share, opening and migrating the
// database, verifying API keys through the members service, consuming a
// feed of events per community and running periodic work. Each service
// keeps only what is its own.
package service
