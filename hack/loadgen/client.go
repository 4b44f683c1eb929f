package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
)

// session is one MCP session on its own kept-alive connection. It speaks
// just enough HTTP/1.1 (a POST with Content-Length; responses with
// Content-Length or chunked) to cost the machine little.
type session struct {
	host, path string
	token      string
	id         string
	nextID     atomic.Int64
	conn       net.Conn
	br         *bufio.Reader
	req, body  []byte
}

func newSession(o options) (*session, error) {
	u, err := url.Parse(o.url)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("--url must be an http:// URL, got %q", o.url)
	}
	s := &session{host: u.Host, path: u.RequestURI(), token: o.token}
	body, err := s.post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"loadgen","version":"1"}}}`)
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if !bytes.Contains(body, []byte(`"protocolVersion"`)) {
		return nil, fmt.Errorf("initialize: unexpected answer %.200s", body)
	}
	if s.id == "" {
		return nil, errors.New("initialize: no Mcp-Session-Id header")
	}
	if _, err := s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
		return nil, fmt.Errorf("notifications/initialized: %w", err)
	}
	return s, nil
}

func (s *session) post(payload string) ([]byte, error) {
	body, err := s.roundTrip(payload)
	if err != nil && s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
	return body, err
}

func (s *session) roundTrip(payload string) ([]byte, error) {
	if s.conn == nil {
		c, err := net.Dial("tcp", s.host)
		if err != nil {
			return nil, err
		}
		s.conn, s.br = c, bufio.NewReaderSize(c, 64<<10)
	}
	r := append(s.req[:0], "POST "...)
	r = append(r, s.path...)
	r = append(r, " HTTP/1.1\r\nHost: "...)
	r = append(r, s.host...)
	r = append(r, "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: "...)
	r = strconv.AppendInt(r, int64(len(payload)), 10)
	if s.id != "" {
		r = append(r, "\r\nMcp-Session-Id: "...)
		r = append(r, s.id...)
		r = append(r, "\r\nMcp-Protocol-Version: 2025-06-18"...)
	}
	if s.token != "" {
		r = append(r, "\r\nAuthorization: Bearer "...)
		r = append(r, s.token...)
	}
	r = append(r, "\r\n\r\n"...)
	r = append(r, payload...)
	s.req = r
	if _, err := s.conn.Write(r); err != nil {
		return nil, err
	}
	line, err := s.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	status, _ := strconv.Atoi(string(line[9:12]))
	length, chunked, closing := -1, false, false
	for {
		h, err := s.br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		case bytes.EqualFold(k, []byte("Mcp-Session-Id")):
			s.id = string(v)
		}
	}
	s.body = s.body[:0]
	switch {
	case chunked:
		for {
			sz, err := s.br.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(sz, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("bad chunk size %q", sz)
			}
			if n == 0 {
				if _, err := s.br.ReadSlice('\n'); err != nil { // the CRLF after the last chunk
					return nil, err
				}
				break
			}
			if s.body, err = readN(s.br, s.body, int(n)+2); err != nil {
				return nil, err
			}
			s.body = s.body[:len(s.body)-2]
		}
	case length >= 0:
		if s.body, err = readN(s.br, s.body, length); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("response without Content-Length or chunked encoding")
	}
	if closing {
		_ = s.conn.Close()
		s.conn = nil
	}
	if status != http.StatusOK && status != http.StatusAccepted {
		return nil, fmt.Errorf("HTTP %d: %.300s", status, s.body)
	}
	return s.body, nil
}

func readN(br *bufio.Reader, buf []byte, n int) ([]byte, error) {
	start := len(buf)
	buf = slices.Grow(buf, n)[:start+n]
	_, err := io.ReadFull(br, buf[start:])
	return buf, err
}

// call runs one tool call; it fails on HTTP errors, JSON-RPC errors and
// tool results with isError.
func (s *session) call(tool, args string) error {
	id := s.nextID.Add(1)
	payload := `{"jsonrpc":"2.0","id":` + strconv.FormatInt(id, 10) + `,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	body, err := s.post(payload)
	if err != nil {
		return err
	}
	if bytes.Contains(body, []byte(`"isError":true`)) || !bytes.Contains(body, []byte(`"result"`)) {
		return fmt.Errorf("%s: %.300s", tool, body)
	}
	return nil
}
