//go:build !scratch

package main

import "github.com/memory-operator/memory-operator/server/store"

// openStore opens the configured backend.
var openStore = store.Open
