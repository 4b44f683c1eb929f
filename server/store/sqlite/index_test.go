package sqlite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

func TestPostingSmallAndBitmap(t *testing.T) {
	for _, n := range []int{1, smallPosting - 1, smallPosting, smallPosting + 1, 5 * smallPosting} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var p posting
			want := map[uint32]bool{}
			r := rand.New(rand.NewPCG(uint64(n), 1))
			for len(want) < n {
				s := uint32(r.IntN(10 * n))
				p = p.add(s)
				p = p.add(s) // twice: a set
				want[s] = true
			}
			if p.len() != n {
				t.Fatalf("len = %d, want %d", p.len(), n)
			}
			if (p.bm != nil) != (n > smallPosting) {
				t.Errorf("bitmap = %v with %d slots (small up to %d)", p.bm != nil, n, smallPosting)
			}
			var got []uint32
			p.each(func(s uint32) bool { got = append(got, s); return true })
			if !slices.IsSorted(got) || len(got) != n {
				t.Fatalf("each = %v, want %d sorted slots", got, n)
			}
			for _, s := range got {
				if !want[s] || !p.contains(s) {
					t.Fatalf("slot %d: in the set %v, contains %v", s, want[s], p.contains(s))
				}
			}
			for i, s := range got {
				var nonEmpty bool
				p, nonEmpty = p.remove(s)
				if nonEmpty != (i < n-1) || p.contains(s) {
					t.Fatalf("after removing %d of %d: nonEmpty %v, still contains %v", i+1, n, nonEmpty, p.contains(s))
				}
			}
		})
	}
}

// TestGraphIndexMatchesBruteForce applies random writes to a graph (names,
// types and observations from a small alphabet, so that trigrams are shared
// by many entities and sets grow past smallPosting and shrink back) and
// checks after each that the index's candidates are exactly the entities
// holding every trigram of a query, and that they include every true match.
func TestGraphIndexMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	word := func() string {
		b := make([]rune, 2+r.IntN(6))
		for i := range b {
			b[i] = []rune("abcABCé")[r.IntN(7)]
		}
		return string(b)
	}
	g := newGraph()
	var nextID int64
	names := []string{}
	for step := range 3000 {
		switch op := r.IntN(10); {
		case op < 4 || len(names) == 0:
			nextID++
			name := fmt.Sprintf("%s-%d", word(), nextID)
			if g.byName[name] == nil {
				g.addEntity(nextID, name, word(), []string{word(), word()})
				names = append(names, name)
			}
		case op < 7:
			g.addObservations(names[r.IntN(len(names))], []string{word()})
		case op < 9:
			e := g.byName[names[r.IntN(len(names))]]
			if len(e.obs) > 0 {
				g.deleteObservations(e.name, []string{e.obs[r.IntN(len(e.obs))], word()})
			}
		default:
			i := r.IntN(len(names))
			g.deleteEntity(names[i])
			names = slices.Delete(names, i, i+1)
		}
		if step%50 != 0 {
			continue
		}
		for range 20 {
			q := string([]rune(word() + word())[:3])
			m := storeutil.NewMatcher(q)
			var got []string
			g.index.candidates(m.Folded(), func(slot uint32) bool {
				got = append(got, g.slots[slot].name)
				return true
			})
			var want []string
			for _, e := range g.slots {
				if e == nil {
					continue
				}
				set := trigramSet(e.texts())
				all := true
				eachTrigram(m.Folded(), func(k uint64) {
					if _, ok := set[k]; !ok {
						all = false
					}
				})
				if all {
					want = append(want, e.name)
				} else if m.MatchEntity(e.name, e.typ, e.obs) {
					t.Fatalf("step %d: %q matches %q but lacks one of its trigrams", step, e.name, q)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: candidates(%q) = %v, want %v", step, q, got, want)
			}
		}
	}
	large := 0
	for _, p := range g.index.sets {
		if p.bm != nil {
			large++
		}
	}
	if large == 0 {
		t.Error("no set grew past smallPosting: the test does not reach the bitmaps")
	}
}
