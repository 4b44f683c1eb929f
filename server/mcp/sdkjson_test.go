package mcp_test

import (
	"bytes"
	"runtime"
	"testing"

	segjson "github.com/segmentio/encoding/json"
)

// TestSDKMessageDecodingAllocatesLittle guards the patched copy of
// github.com/segmentio/encoding (third_party/README.md): the SDK decodes
// every JSON-RPC message, and parts of it again, through a json.Decoder over
// a bytes.Reader, which without the patch allocates a 32 KiB buffer each
// time (four per tool call, a third of memory-server's CPU under load). It
// fails if go.mod's replace directive is dropped or the copy loses the patch.
func TestSDKMessageDecodingAllocatesLittle(t *testing.T) {
	msg := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"open_nodes","arguments":{"names":["Alice","Bob","Carol"]}}}`)
	var v struct {
		ID     int64              `json:"id"`
		Method string             `json:"method"`
		Params segjson.RawMessage `json:"params"`
	}
	const runs = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		dec := segjson.NewDecoder(bytes.NewReader(msg))
		dec.DontMatchCaseInsensitiveStructFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if v.Method != "tools/call" || v.ID != 7 || len(v.Params) == 0 {
		t.Fatalf("decoded %+v", v)
	}
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 2048 {
		t.Fatalf("decoding a %d-byte message allocated %d bytes per message, want at most 2048 (is go.mod's replace of github.com/segmentio/encoding in place?)", len(msg), per)
	}
}
