// Package boltstub is a scripted Bolt 5 server for tests of the Neo4j store:
// it lets the real driver connect, checks every transaction message it sends
// against a script (exact Cypher, parameters and transaction metadata) and
// answers with the script's canned records, failures, dropped connections or
// held answers. It is test support only, imported from _test files.
//
// The stub speaks what the driver needs: the handshake (magic 0x6060B017,
// versions 5.0 to 5.4 offered, manifest negotiation declined), chunked
// messages, PackStream, and the messages HELLO, LOGON, LOGOFF, RESET and
// GOODBYE (answered by the stub itself, and recorded) and BEGIN, RUN, PULL,
// DISCARD, COMMIT, ROLLBACK, ROUTE and TELEMETRY (matched against the script).
// After a FAILURE it answers IGNORED to everything until RESET, as a Neo4j
// server does.
package boltstub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"testing"
)

// Message tags.
const (
	tagHello     = 0x01
	tagGoodbye   = 0x02
	tagReset     = 0x0F
	tagRun       = 0x10
	tagBegin     = 0x11
	tagCommit    = 0x12
	tagRollback  = 0x13
	tagDiscard   = 0x2F
	tagPull      = 0x3F
	tagTelemetry = 0x54
	tagRoute     = 0x66
	tagLogon     = 0x6A
	tagLogoff    = 0x6B
	tagSuccess   = 0x70
	tagRecord    = 0x71
	tagIgnored   = 0x7E
	tagFailure   = 0x7F
)

var names = map[byte]string{
	tagHello: "HELLO", tagGoodbye: "GOODBYE", tagReset: "RESET", tagRun: "RUN",
	tagBegin: "BEGIN", tagCommit: "COMMIT", tagRollback: "ROLLBACK", tagDiscard: "DISCARD",
	tagPull: "PULL", tagTelemetry: "TELEMETRY", tagRoute: "ROUTE", tagLogon: "LOGON", tagLogoff: "LOGOFF",
}

// Message is one message the driver sent.
type Message struct {
	// Conn numbers the connection it came on, from 1.
	Conn int
	// Name is the message name, e.g. "RUN".
	Name string
	// Fields are the decoded fields (RUN: query, parameters, extras).
	Fields []any
	// Ignored is true when the stub answered IGNORED (failed state).
	Ignored bool
}

// Failure is a FAILURE answer.
type Failure struct {
	Code    string
	Message string
}

// Step is one expected message and its answer.
type Step struct {
	// Name of the expected message: BEGIN, RUN, PULL, DISCARD, COMMIT,
	// ROLLBACK, ROUTE or TELEMETRY.
	Name string
	// Query is the exact Cypher of a RUN.
	Query string
	// Params are the exact parameters of a RUN (nil: none).
	Params map[string]any
	// Meta is the exact metadata map of a BEGIN, PULL or DISCARD, or the
	// extras of a ROUTE (nil: empty).
	Meta map[string]any
	// Fields are the column names a RUN's SUCCESS announces.
	Fields []string
	// Records are sent before a PULL's SUCCESS.
	Records [][]any
	// Success is the metadata of the SUCCESS answer (PULL default:
	// {"has_more": false}; RUN default: {"fields": Fields, "t_first": 1}).
	Success map[string]any
	// Failure, when set, is answered instead of SUCCESS.
	Failure *Failure
	// Drop closes the connection instead of answering.
	Drop bool
	// Hold delays the answer (or the Drop) until the channel is closed.
	Hold <-chan struct{}
}

// Begin expects a BEGIN with exactly meta.
func Begin(meta map[string]any) Step { return Step{Name: "BEGIN", Meta: meta} }

// Run expects a RUN of exactly query with exactly params; its SUCCESS
// announces fields.
func Run(query string, params map[string]any, fields ...string) Step {
	return Step{Name: "RUN", Query: query, Params: params, Fields: fields}
}

// Pull expects PULL {n: 1000} (the driver's fetch size) and sends records.
func Pull(records ...[]any) Step {
	return Step{Name: "PULL", Meta: map[string]any{"n": 1000}, Records: records}
}

// Route expects a ROUTE with exactly extras and answers a routing table
// naming the stub itself as the only router, reader and writer.
func (s *Server) Route(extras map[string]any, database string) Step {
	self := []string{s.ln.Addr().String()}
	servers := []any{
		map[string]any{"role": "ROUTE", "addresses": self},
		map[string]any{"role": "READ", "addresses": self},
		map[string]any{"role": "WRITE", "addresses": self},
	}
	return Step{Name: "ROUTE", Meta: extras, Success: map[string]any{"rt": map[string]any{"ttl": 300, "db": database, "servers": servers}}}
}

// Commit expects a COMMIT.
func Commit() Step { return Step{Name: "COMMIT"} }

// Server is a running stub.
type Server struct {
	t  testing.TB
	ln net.Listener

	// AuthFailure, when set before the driver connects, is the answer to
	// LOGON (or to HELLO for Bolt 5.0); the stub then closes the connection.
	AuthFailure *Failure
	// MaxMinor is the highest Bolt 5 minor version offered (default 4).
	MaxMinor byte

	mu       sync.Mutex
	steps    []Step
	next     int
	received []Message
	conns    map[net.Conn]bool
	nconn    int
	done     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// Start listens on 127.0.0.1:0 and serves until the test ends; at the end it
// fails the test if script steps were left unused.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("boltstub: listen: %v", err)
	}
	s := &Server{t: t, ln: ln, MaxMinor: 4, conns: map[net.Conn]bool{}, done: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

// URI is the bolt:// URI of the stub (direct connection, no routing).
func (s *Server) URI() string { return "bolt://" + s.ln.Addr().String() }

// Expect appends steps to the script.
func (s *Server) Expect(steps ...Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, steps...)
}

// Remaining is the number of script steps not yet used.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.steps) - s.next
}

// Received returns every message received so far, in order.
func (s *Server) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.received...)
}

// Connections is the number of connections accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nconn
}

// Stop closes the listener and every connection, as a server going away.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		close(s.done)
		_ = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

func (s *Server) close() {
	s.Stop()
	if n := s.Remaining(); n > 0 {
		s.mu.Lock()
		next := s.steps[s.next]
		s.mu.Unlock()
		s.t.Errorf("boltstub: %d script steps never received, the next being %s %q", n, next.Name, next.Query)
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.nconn++
		id := s.nconn
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				_ = c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			if err := s.serve(c, id); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.t.Logf("boltstub: connection %d: %v", id, err)
			}
		}()
	}
}

func (s *Server) handshake(c net.Conn) (byte, error) {
	var hs [20]byte
	if _, err := io.ReadFull(c, hs[:]); err != nil {
		return 0, err
	}
	if binary.BigEndian.Uint32(hs[:4]) != 0x6060B017 {
		return 0, fmt.Errorf("bad magic % X", hs[:4])
	}
	for i := 4; i < 20; i += 4 {
		back, minor, major := hs[i+1], hs[i+2], hs[i+3]
		if major != 5 || minor < back {
			continue // the manifest marker 0xFF, Bolt 4 and 3
		}
		lo := minor - back
		chosen := min(minor, s.MaxMinor)
		if chosen >= lo {
			_, err := c.Write([]byte{0, 0, chosen, 5})
			return chosen, err
		}
	}
	_, _ = c.Write([]byte{0, 0, 0, 0})
	return 0, fmt.Errorf("no Bolt 5 version in % X", hs[4:])
}

func readMessage(c net.Conn) ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint16(h[:]))
		if n == 0 {
			if len(msg) == 0 {
				continue // NOOP
			}
			return msg, nil
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(c, chunk); err != nil {
			return nil, err
		}
		msg = append(msg, chunk...)
	}
}

func writeMessage(c net.Conn, tag byte, fields ...any) error {
	out, err := appendMessage(nil, tag, fields...)
	if err != nil {
		return err
	}
	_, err = c.Write(out)
	return err
}

// appendMessage appends one chunked message to out.
func appendMessage(out []byte, tag byte, fields ...any) ([]byte, error) {
	body, err := Encode(Struct{Tag: tag, Fields: fields})
	if err != nil {
		return out, err
	}
	for len(body) > 0 {
		n := min(len(body), 0xFFFF)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
		out = append(out, body[:n]...)
		body = body[n:]
	}
	return append(out, 0, 0), nil
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	s.received = append(s.received, m)
	s.mu.Unlock()
}

func (s *Server) serve(c net.Conn, id int) error {
	minor, err := s.handshake(c)
	if err != nil {
		return err
	}
	failed := false
	for {
		raw, err := readMessage(c)
		if err != nil {
			return err
		}
		v, err := Decode(raw)
		if err != nil {
			return err
		}
		st, ok := v.(Struct)
		if !ok {
			return fmt.Errorf("message is a %T, not a structure", v)
		}
		name := names[st.Tag]
		if name == "" {
			name = fmt.Sprintf("0x%02X", st.Tag)
		}
		m := Message{Conn: id, Name: name, Fields: st.Fields}
		switch st.Tag {
		case tagHello:
			s.record(m)
			if minor == 0 && s.AuthFailure != nil {
				return s.fail(c, *s.AuthFailure)
			}
			if err := writeMessage(c, tagSuccess, map[string]any{"server": "Neo4j/5.26.0", "connection_id": fmt.Sprintf("bolt-%d", id)}); err != nil {
				return err
			}
			continue
		case tagLogon:
			s.record(m)
			if s.AuthFailure != nil {
				return s.fail(c, *s.AuthFailure)
			}
			if err := writeMessage(c, tagSuccess, map[string]any{}); err != nil {
				return err
			}
			continue
		case tagLogoff:
			s.record(m)
			if err := writeMessage(c, tagSuccess, map[string]any{}); err != nil {
				return err
			}
			continue
		case tagReset:
			s.record(m)
			failed = false
			if err := writeMessage(c, tagSuccess, map[string]any{}); err != nil {
				return err
			}
			continue
		case tagGoodbye:
			s.record(m)
			return nil
		}
		if failed {
			m.Ignored = true
			s.record(m)
			if err := writeMessage(c, tagIgnored); err != nil {
				return err
			}
			continue
		}
		s.record(m)
		step, problem := s.match(m)
		if problem != "" {
			s.t.Errorf("boltstub: connection %d: %s", id, problem)
			failed = true
			if err := writeMessage(c, tagFailure, map[string]any{"code": "Neo.ClientError.Request.Invalid", "message": "boltstub: " + problem}); err != nil {
				return err
			}
			continue
		}
		if step.Hold != nil {
			select {
			case <-step.Hold:
			case <-s.done:
				return nil
			}
		}
		if step.Drop {
			return nil // the deferred Close drops the connection
		}
		if step.Failure != nil {
			failed = true
			if err := writeMessage(c, tagFailure, map[string]any{"code": step.Failure.Code, "message": step.Failure.Message}); err != nil {
				return err
			}
			continue
		}
		if err := answer(c, step); err != nil {
			return err
		}
	}
}

// fail answers an authentication failure and ends the connection.
func (s *Server) fail(c net.Conn, f Failure) error {
	return writeMessage(c, tagFailure, map[string]any{"code": f.Code, "message": f.Message})
}

// answer sends a step's records and SUCCESS in one write.
func answer(c net.Conn, step Step) error {
	var out []byte
	var err error
	meta := step.Success
	switch step.Name {
	case "RUN":
		if meta == nil {
			fields := step.Fields
			if fields == nil {
				fields = []string{}
			}
			meta = map[string]any{"fields": fields, "t_first": 1}
		}
	case "PULL", "DISCARD":
		for _, r := range step.Records {
			if out, err = appendMessage(out, tagRecord, r); err != nil {
				return err
			}
		}
		if meta == nil {
			meta = map[string]any{"has_more": false}
		}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	if out, err = appendMessage(out, tagSuccess, meta); err != nil {
		return err
	}
	_, err = c.Write(out)
	return err
}

// match takes the next script step and compares it with m; problem is
// empty when they match.
func (s *Server) match(m Message) (Step, string) {
	s.mu.Lock()
	if s.next >= len(s.steps) {
		s.mu.Unlock()
		return Step{}, fmt.Sprintf("unexpected %s %s: the script is over", m.Name, describe(m))
	}
	step := s.steps[s.next]
	s.next++
	s.mu.Unlock()
	if step.Name != m.Name {
		return step, fmt.Sprintf("step %d: expected %s %q, got %s %s", s.next, step.Name, step.Query, m.Name, describe(m))
	}
	switch m.Name {
	case "RUN":
		if len(m.Fields) != 3 {
			return step, fmt.Sprintf("RUN with %d fields", len(m.Fields))
		}
		if q, _ := m.Fields[0].(string); q != step.Query {
			return step, fmt.Sprintf("step %d: RUN query differs:\nexpected: %q\n     got: %q", s.next, step.Query, m.Fields[0])
		}
		if problem := sameMap("RUN parameters", step.Params, m.Fields[1]); problem != "" {
			return step, fmt.Sprintf("step %d (%q): %s", s.next, firstLine(step.Query), problem)
		}
		if problem := sameMap("RUN extras inside a transaction", nil, m.Fields[2]); problem != "" {
			return step, fmt.Sprintf("step %d: %s", s.next, problem)
		}
	case "ROUTE":
		if len(m.Fields) != 3 {
			return step, fmt.Sprintf("ROUTE with %d fields", len(m.Fields))
		}
		if problem := sameMap("ROUTE extras", step.Meta, m.Fields[2]); problem != "" {
			return step, fmt.Sprintf("step %d: %s", s.next, problem)
		}
	case "BEGIN", "PULL", "DISCARD":
		var got any
		if len(m.Fields) > 0 {
			got = m.Fields[0]
		}
		if problem := sameMap(m.Name+" metadata", step.Meta, got); problem != "" {
			return step, fmt.Sprintf("step %d: %s", s.next, problem)
		}
	}
	return step, ""
}

func sameMap(what string, expected map[string]any, got any) string {
	if expected == nil {
		expected = map[string]any{}
	}
	want, err := Normalize(expected)
	if err != nil {
		return fmt.Sprintf("%s: bad expectation: %v", what, err)
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s differ:\nexpected: %#v\n     got: %#v", what, want, got)
	}
	return ""
}

func describe(m Message) string {
	if m.Name == "RUN" && len(m.Fields) > 0 {
		return fmt.Sprintf("%q %#v", m.Fields[0], m.Fields[1:])
	}
	return fmt.Sprintf("%#v", m.Fields)
}

func firstLine(q string) string {
	for i, r := range q {
		if r == '\n' {
			return q[:i]
		}
	}
	return q
}
