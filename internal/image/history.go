package image

import "github.com/shipshape-dev/shipshape/internal/shellcmd"

// HistoryEntry is one entry of the config's history with the layer it
// made: the one mapping between history and layers.
type HistoryEntry struct {
	// Index is the entry's position in the config's history.
	Index int
	// Layer is the 1-based index of the layer the entry made; 0 for an
	// instruction that made no layer (ENV, LABEL, CMD …) and for entries
	// past the last layer.
	Layer     int
	CreatedBy string
	Comment   string
	Empty     bool
}

// History lists the config's history entries with their layers.
func (i *Image) History() []HistoryEntry {
	if i.Config == nil {
		return nil
	}
	out := make([]HistoryEntry, 0, len(i.Config.History))
	layer := 0
	for j, h := range i.Config.History {
		e := HistoryEntry{Index: j, CreatedBy: h.CreatedBy, Comment: h.Comment, Empty: h.EmptyLayer}
		if !h.EmptyLayer {
			layer++
			if layer <= len(i.Layers) {
				e.Layer = layer
			}
		}
		out = append(out, e)
	}
	return out
}

// LayerHistory maps each layer index to the history entry that made it.
func (i *Image) LayerHistory() map[int]int {
	m := map[int]int{}
	for _, e := range i.History() {
		if e.Layer > 0 {
			m[e.Layer] = e.Index
		}
	}
	return m
}

// BaseLayers estimates how many of the image's layers come from its base
// image: those made before the last CMD or ENTRYPOINT that is followed by
// more layers (a base image ends with its default command; the build adds
// layers after it). An image whose history shows no such boundary has a
// one-layer base.
func (i *Image) BaseLayers() int {
	h := i.History()
	layers, base := 0, 0
	for j, e := range h {
		if !e.Empty {
			layers++
			continue
		}
		if instr, _ := shellcmd.History(e.CreatedBy); instr != "CMD" && instr != "ENTRYPOINT" {
			continue
		}
		for _, later := range h[j+1:] {
			if !later.Empty {
				base = layers
				break
			}
		}
	}
	// The image's own layers count, whatever its history says (a
	// history may be missing or short).
	if len(i.Layers) > 0 {
		layers = len(i.Layers)
	}
	if base == 0 && layers > 0 {
		base = 1
	}
	return min(base, layers)
}
