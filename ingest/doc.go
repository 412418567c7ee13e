// Package ingest reads the fleet and tag JSON Lines formats and streams
// them into a [ttprepo.Store] in bounded batches, so that a file of any
// size is ingested in constant memory.
package ingest
