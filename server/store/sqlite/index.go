package sqlite

import (
	"slices"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// trigramIndex is the substring index of the in-memory graph (graph.go):
// for each trigram (three runes) of the case-folded name, type and
// observations, the set of entities (by slot) holding it in one of them.
//
// A query of three runes or more can only match an entity that holds every
// trigram of the folded query, so search looks up the query's trigrams,
// walks the rarest one's entities, keeps those that hold the others too, and
// re-checks each candidate exactly (storeutil.Matcher): the index decides
// speed only, never the result. Shorter queries scan every entity.
//
// The sets are exact (a deleted observation's trigrams are removed unless
// another of the entity's strings holds them), so a search costs what its
// candidates cost, however many writes came before; there is nothing to
// merge or vacuum. A set starts as a short sorted slice, which costs a few
// bytes for the many trigrams that only a few entities hold, and becomes a
// roaring bitmap (compressed, one bit per entity where dense) past
// smallPosting entries.
type trigramIndex struct {
	sets map[uint64]posting
}

// smallPosting is the largest set kept as a sorted slice.
const smallPosting = 32

// posting is one trigram's set of slots: small (sorted) while bm is nil.
type posting struct {
	small []uint32
	bm    *roaring.Bitmap
}

func newTrigramIndex() trigramIndex { return trigramIndex{sets: map[uint64]posting{}} }

func (p posting) len() int {
	if p.bm != nil {
		return int(p.bm.GetCardinality())
	}
	return len(p.small)
}

func (p posting) contains(slot uint32) bool {
	if p.bm != nil {
		return p.bm.Contains(slot)
	}
	_, ok := slices.BinarySearch(p.small, slot)
	return ok
}

func (p posting) add(slot uint32) posting {
	if p.bm != nil {
		p.bm.Add(slot)
		return p
	}
	i, ok := slices.BinarySearch(p.small, slot)
	if ok {
		return p
	}
	if len(p.small) < smallPosting {
		p.small = slices.Insert(p.small, i, slot)
		return p
	}
	p.bm = roaring.BitmapOf(p.small...)
	p.bm.Add(slot)
	p.small = nil
	return p
}

// remove removes slot; it reports false when the set is empty afterwards.
func (p posting) remove(slot uint32) (posting, bool) {
	if p.bm != nil {
		p.bm.Remove(slot)
		return p, !p.bm.IsEmpty()
	}
	if i, ok := slices.BinarySearch(p.small, slot); ok {
		p.small = slices.Delete(p.small, i, i+1)
	}
	return p, len(p.small) > 0
}

// each calls fn for every slot in increasing order until fn returns false.
func (p posting) each(fn func(slot uint32) bool) {
	if p.bm != nil {
		p.bm.Iterate(fn)
		return
	}
	for _, s := range p.small {
		if !fn(s) {
			return
		}
	}
}

// trigramKey packs three runes (21 bits each) into one key.
func trigramKey(a, b, c rune) uint64 {
	return uint64(a)<<42 | uint64(b)<<21 | uint64(c)
}

// eachTrigram calls fn with the key of every trigram of folded, in order
// (repeats included).
func eachTrigram(folded string, fn func(k uint64)) {
	var a, b rune
	n := 0
	for _, r := range folded {
		if n >= 2 {
			fn(trigramKey(a, b, r))
		}
		a, b = b, r
		n++
	}
}

// trigramSet returns the distinct trigram keys of the folded strings.
func trigramSet(texts []string) map[uint64]struct{} {
	set := map[uint64]struct{}{}
	for _, t := range texts {
		eachTrigram(storeutil.Fold(t), func(k uint64) { set[k] = struct{}{} })
	}
	return set
}

// addText adds slot to the sets of s's trigrams.
func (ix trigramIndex) addText(slot uint32, s string) {
	eachTrigram(storeutil.Fold(s), func(k uint64) { ix.sets[k] = ix.sets[k].add(slot) })
}

func (ix trigramIndex) removeKey(slot uint32, k uint64) {
	p, ok := ix.sets[k]
	if !ok {
		return
	}
	if p, nonEmpty := p.remove(slot); nonEmpty {
		ix.sets[k] = p
	} else {
		delete(ix.sets, k)
	}
}

// removeTexts removes slot from the sets of the trigrams of removed that
// none of the entity's remaining strings holds.
func (ix trigramIndex) removeTexts(slot uint32, removed, remaining []string) {
	keep := trigramSet(remaining)
	for k := range trigramSet(removed) {
		if _, ok := keep[k]; !ok {
			ix.removeKey(slot, k)
		}
	}
}

// removeAll removes slot from the sets of every trigram of texts.
func (ix trigramIndex) removeAll(slot uint32, texts []string) {
	for k := range trigramSet(texts) {
		ix.removeKey(slot, k)
	}
}

// candidates calls fn with every slot holding all trigrams of folded (which
// has at least three runes), in increasing order, until fn returns false.
func (ix trigramIndex) candidates(folded string, fn func(slot uint32) bool) {
	var sets []posting
	seen := make(map[uint64]bool, utf8.RuneCountInString(folded))
	missing := false
	eachTrigram(folded, func(k uint64) {
		if seen[k] || missing {
			return
		}
		seen[k] = true
		p, ok := ix.sets[k]
		if !ok {
			missing = true
			return
		}
		sets = append(sets, p)
	})
	if missing || len(sets) == 0 {
		return
	}
	slices.SortFunc(sets, func(a, b posting) int { return a.len() - b.len() })
	rest := sets[1:]
	sets[0].each(func(slot uint32) bool {
		for _, p := range rest {
			if !p.contains(slot) {
				return true
			}
		}
		return fn(slot)
	})
}
