package mcp

import (
	"context"
	"encoding/json"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-operator/memory-operator/server/memory"
)

// The handlers: decode (validating), one Store call (one transaction),
// encode. Slices are normalized so that empty results are [] and never null.

func (s *Server) createEntities(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	in, err := DecodeCreateEntities(raw)
	if err != nil {
		return nil, err
	}
	out, err := s.store.CreateEntities(ctx, in)
	if err != nil {
		return nil, err
	}
	s.graphChanged(ctx)
	return jsonResult("entities", normalizeEntities(out))
}

func (s *Server) createRelations(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	in, err := DecodeRelations(raw)
	if err != nil {
		return nil, err
	}
	out, err := s.store.CreateRelations(ctx, in)
	if err != nil {
		return nil, err
	}
	s.graphChanged(ctx)
	if out == nil {
		out = []memory.Relation{}
	}
	return jsonResult("relations", out)
}

func (s *Server) addObservations(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	in, err := DecodeAddObservations(raw)
	if err != nil {
		return nil, err
	}
	out, err := s.store.AddObservations(ctx, in)
	if err != nil {
		return nil, err
	}
	s.graphChanged(ctx)
	if out == nil {
		out = []memory.ObservationResult{}
	}
	for i := range out {
		if out[i].AddedObservations == nil {
			out[i].AddedObservations = []string{}
		}
	}
	return jsonResult("results", out)
}

func (s *Server) deleteEntities(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	in, err := DecodeStrings(raw, "entityNames")
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteEntities(ctx, in); err != nil {
		return nil, err
	}
	s.graphChanged(ctx)
	return messageResult("Entities deleted successfully"), nil
}

func (s *Server) deleteObservations(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	in, err := DecodeDeleteObservations(raw)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteObservations(ctx, in); err != nil {
		return nil, err
	}
	s.graphChanged(ctx)
	return messageResult("Observations deleted successfully"), nil
}

func (s *Server) deleteRelations(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	in, err := DecodeRelations(raw)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteRelations(ctx, in); err != nil {
		return nil, err
	}
	s.graphChanged(ctx)
	return messageResult("Relations deleted successfully"), nil
}

func (s *Server) readGraph(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	if err := DecodeNone(raw); err != nil {
		return nil, err
	}
	g, err := s.store.ReadGraph(ctx)
	if err != nil {
		return nil, err
	}
	return jsonResult("", normalizeGraph(g))
}

func (s *Server) searchNodes(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	q, err := DecodeSearchNodes(raw)
	if err != nil {
		return nil, err
	}
	g, err := s.store.SearchNodes(ctx, q)
	if err != nil {
		return nil, err
	}
	return jsonResult("", normalizeGraph(g))
}

func (s *Server) openNodes(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	names, err := DecodeStrings(raw, "names")
	if err != nil {
		return nil, err
	}
	g, err := s.store.OpenNodes(ctx, names)
	if err != nil {
		return nil, err
	}
	return jsonResult("", normalizeGraph(g))
}

func (s *Server) searchMemories(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	a, err := DecodeSearchMemories(raw)
	if err != nil {
		return nil, err
	}
	hits, err := s.store.SearchMemories(ctx, a.Query, a.Limit)
	if err != nil {
		return nil, err
	}
	if hits == nil {
		hits = []memory.ScoredEntity{}
	}
	for i := range hits {
		if hits[i].Observations == nil {
			hits[i].Observations = []string{}
		}
	}
	return jsonResult("results", hits)
}

func (s *Server) findRelated(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error) {
	q, err := DecodeFindRelated(raw)
	if err != nil {
		return nil, err
	}
	g, err := s.store.FindRelated(ctx, q)
	if err != nil {
		return nil, err
	}
	return jsonResult("", normalizeGraph(g))
}

func normalizeEntities(es []memory.Entity) []memory.Entity {
	if es == nil {
		return []memory.Entity{}
	}
	for i := range es {
		if es[i].Observations == nil {
			es[i].Observations = []string{}
		}
	}
	return es
}

func normalizeGraph(g memory.Graph) memory.Graph {
	g.Entities = normalizeEntities(g.Entities)
	if g.Relations == nil {
		g.Relations = []memory.Relation{}
	}
	return g
}
