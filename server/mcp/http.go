package mcp

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// SessionIdleTimeout closes streamable-HTTP sessions that sent nothing for
// this long, so clients that vanish do not leak sessions.
const SessionIdleTimeout = 30 * time.Minute

// HTTPOptions configures the HTTP transports.
type HTTPOptions struct {
	// MaxRequestBytes caps one request body (413 beyond it).
	MaxRequestBytes int64
	// Tokens, when not empty, are the accepted bearer tokens.
	Tokens []string
}

// StreamableHandler serves MCP streamable HTTP (mount it at /mcp). Responses
// are application/json (no SSE framing per POST), sessions are stateful
// (Mcp-Session-Id), the SDK's DNS-rebinding protection is on (a request
// reaching a loopback address with a non-loopback Host is refused) and
// cross-origin browser requests are refused (net/http's
// CrossOriginProtection: non-browser clients are unaffected).
func (s *Server) StreamableHandler(o HTTPOptions) http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.sdk }, &sdk.StreamableHTTPOptions{
		JSONResponse:        true,
		Logger:              s.log,
		SessionTimeout:      SessionIdleTimeout,
		MaxRequestBodyBytes: o.MaxRequestBytes,
	})
	return http.NewCrossOriginProtection().Handler(BearerAuth(o.Tokens, h))
}

// SSEHandler serves the legacy HTTP+SSE transport (mount it at /sse).
func (s *Server) SSEHandler(o HTTPOptions) http.Handler {
	h := sdk.NewSSEHandler(func(*http.Request) *sdk.Server { return s.sdk }, &sdk.SSEOptions{
		MaxRequestBodyBytes: o.MaxRequestBytes,
	})
	return http.NewCrossOriginProtection().Handler(BearerAuth(o.Tokens, h))
}

// LoadTokens reads bearer tokens, one per line; blank lines and lines
// starting with # are ignored. An empty file is an error (it would lock
// every client out).
func LoadTokens(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("while reading the auth tokens file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("while reading the auth tokens file: %w", err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("the auth tokens file %s holds no token", path)
	}
	return tokens, nil
}

// BearerAuth requires "Authorization: Bearer <token>" with one of tokens.
// Tokens are compared as SHA-256 digests in constant time, every token
// checked, so neither content nor length leaks through timing. With no
// tokens it returns next unchanged.
func BearerAuth(tokens []string, next http.Handler) http.Handler {
	if len(tokens) == 0 {
		return next
	}
	digests := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		digests[i] = sha256.Sum256([]byte(t))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		const prefix = "bearer "
		ok := 0
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
			for i := range digests {
				ok |= subtle.ConstantTimeCompare(got[:], digests[i][:])
			}
		}
		if ok != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="memory-server"`)
			http.Error(w, "unauthorized: a valid bearer token is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
