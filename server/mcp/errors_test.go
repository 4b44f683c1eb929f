package mcp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-operator/memory-operator/server/memory"
)

func TestErrorResult(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	tests := []struct {
		err        error
		outcome    string
		wantInText string
	}{
		{&ArgError{Path: "entities[0].name", Msg: "expected string, got null"}, OutcomeInvalidArgument, "Invalid arguments for tool t: entities[0].name: expected string, got null"},
		{memory.InvalidArgument("name must not be empty"), OutcomeInvalidArgument, "name must not be empty"},
		{fmt.Errorf("while adding: %w", &memory.EntityNotFoundError{Name: "Bob"}), OutcomeNotFound, "Entity with name Bob not found"},
		{fmt.Errorf("while acquiring: %w", memory.ErrBusy), OutcomeBusy, "database busy"},
		{fmt.Errorf("sqlite: %w", memory.ErrTimeout), OutcomeTimeout, "timed out"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), OutcomeTimeout, "deadline"},
		{fmt.Errorf("pg: %w", memory.ErrUnavailable), OutcomeUnavailable, "database unavailable"},
		{context.Canceled, OutcomeCanceled, "canceled"},
		{fmt.Errorf("disk on fire"), OutcomeError, "internal error in t: disk on fire"},
	}
	for _, tt := range tests {
		outcome, res := s.errorResult("t", tt.err)
		if outcome != tt.outcome || !res.IsError || len(res.Content) != 1 {
			t.Errorf("%v: outcome %s, result %+v", tt.err, outcome, res)
			continue
		}
		if txt := res.Content[0].(*sdk.TextContent).Text; !strings.Contains(txt, tt.wantInText) {
			t.Errorf("%v: text %q lacks %q", tt.err, txt, tt.wantInText)
		}
	}
}

func TestSchemasAreValidAndMatchDecoders(t *testing.T) {
	for _, spec := range toolSpecs {
		schema(spec.input)
		schema(spec.output)
	}
	if len(ToolNames()) != 11 {
		t.Errorf("tools: %v", ToolNames())
	}
}
