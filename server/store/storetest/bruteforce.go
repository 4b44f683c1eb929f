package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
)

// alphabet mixes ASCII, letters with case pairs outside ASCII, characters
// special to LIKE, FTS5 and SQL, and a few that fold unusually.
var alphabet = []rune("abcABC xyzXYZ%_'\"\\*-()ÄäÖöΣσςßẞKkKǅǄǆ日本")

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// flipCase changes the case of some runes of s.
func flipCase(r *rand.Rand, s string) string {
	var b strings.Builder
	for _, c := range s {
		switch r.IntN(3) {
		case 0:
			c = []rune(strings.ToUpper(string(c)))[0]
		case 1:
			c = []rune(strings.ToLower(string(c)))[0]
		}
		b.WriteRune(c)
	}
	return b.String()
}

// testSearchNodesBruteForce compares SearchNodes with a scan of ReadGraph
// using strings.EqualFold windows, for queries cut from the stored text
// (with their case changed) and random ones, of every length from 1.
func testSearchNodesBruteForce(t *testing.T, s memory.Store) {
	r := rand.New(rand.NewPCG(11, 13))
	var es []memory.Entity
	for i := range 60 {
		es = append(es, memory.Entity{
			Name:         fmt.Sprintf("%d %s", i, randomText(r, 3+r.IntN(8))),
			EntityType:   randomText(r, 1+r.IntN(4)),
			Observations: []string{randomText(r, r.IntN(12)), randomText(r, 5+r.IntN(20))},
		})
	}
	create(t, s, es...)
	g := readGraph(t, s)
	var texts []string
	for _, e := range g.Entities {
		texts = append(texts, e.Name, e.EntityType)
		texts = append(texts, e.Observations...)
	}
	for i := range 150 {
		var q string
		if i%3 == 2 {
			q = randomText(r, 1+r.IntN(5))
		} else {
			src := []rune(texts[r.IntN(len(texts))])
			if len(src) == 0 {
				continue
			}
			lo := r.IntN(len(src))
			hi := lo + 1 + r.IntN(min(6, len(src)-lo))
			q = flipCase(r, string(src[lo:hi]))
		}
		want := []string{}
		for _, e := range g.Entities {
			if containsFold(e.Name, q) || containsFold(e.EntityType, q) || anyContainsFold(e.Observations, q) {
				want = append(want, e.Name)
			}
		}
		equal(t, fmt.Sprintf("SearchNodes(%q) against a scan", q), entityNames(search(t, s, q).Entities), want)
	}
}

func anyContainsFold(ss []string, sub string) bool {
	for _, s := range ss {
		if containsFold(s, sub) {
			return true
		}
	}
	return false
}

// containsFold reports whether s has a window that strings.EqualFold
// matches to sub (simple folding maps rune to rune, so windows of the same
// rune count are enough).
func containsFold(s, sub string) bool {
	rs, n := []rune(s), len([]rune(sub))
	for i := 0; i+n <= len(rs); i++ {
		if strings.EqualFold(string(rs[i:i+n]), sub) {
			return true
		}
	}
	return false
}

// testFindRelatedBruteForce compares FindRelated (without a binding limit)
// with distances computed by a plain breadth-first search over ReadGraph:
// the entities within depth hops, and the relations of the allowed types
// with an end closer than depth (so both ends are within it).
func testFindRelatedBruteForce(t *testing.T, s memory.Store) {
	r := rand.New(rand.NewPCG(5, 8))
	var es []memory.Entity
	for i := range 30 {
		es = append(es, ent(fmt.Sprintf("n%02d", i), "t"))
	}
	create(t, s, es...)
	types := []string{"a", "b", "c"}
	var rs []memory.Relation
	for range 70 {
		from, to := fmt.Sprintf("n%02d", r.IntN(34)), fmt.Sprintf("n%02d", r.IntN(34)) // n30-n33 do not exist
		rs = append(rs, rel(from, to, types[r.IntN(len(types))]))
	}
	relate(t, s, rs...)
	g := readGraph(t, s)
	for i := range 40 {
		start := fmt.Sprintf("n%02d", r.IntN(30))
		depth := 1 + r.IntN(memory.MaxDepth)
		var allowed []string
		if i%2 == 1 {
			allowed = []string{types[r.IntN(len(types))]}
		}
		ok := func(rt string) bool {
			if len(allowed) == 0 {
				return true
			}
			for _, a := range allowed {
				if a == rt {
					return true
				}
			}
			return false
		}
		dist := map[string]int{start: 0}
		frontier := []string{start}
		for d := 1; d <= depth; d++ {
			var next []string
			for _, n := range frontier {
				for _, x := range g.Relations {
					if !ok(x.RelationType) {
						continue
					}
					for _, pair := range [][2]string{{x.From, x.To}, {x.To, x.From}} {
						if pair[0] == n {
							if _, seen := dist[pair[1]]; !seen {
								dist[pair[1]] = d
								next = append(next, pair[1])
							}
						}
					}
				}
			}
			frontier = next
		}
		wantEntities := []string{}
		for _, e := range g.Entities {
			if _, in := dist[e.Name]; in {
				wantEntities = append(wantEntities, e.Name)
			}
		}
		wantRelations := []memory.Relation{}
		for _, x := range g.Relations {
			df, okF := dist[x.From]
			dt, okT := dist[x.To]
			if ok(x.RelationType) && okF && okT && min(df, dt) < depth {
				wantRelations = append(wantRelations, x)
			}
		}
		got, err := s.FindRelated(ctx(t), memory.FindRelatedQuery{Name: start, Depth: depth, RelationTypes: allowed, Limit: 1000})
		if err != nil {
			t.Fatalf("FindRelated(%s, %d, %v): %v", start, depth, allowed, err)
		}
		what := fmt.Sprintf("FindRelated(%s, depth %d, types %v)", start, depth, allowed)
		equal(t, what+" entities", entityNames(got.Entities), wantEntities)
		equal(t, what+" relations", got.Relations, wantRelations)
	}
}
