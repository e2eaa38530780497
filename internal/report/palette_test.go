package report

import (
	"math"
	"testing"
)

func TestContrast(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#777777", "#ffffff", 4.48}, // the classic just-too-light grey
		{"#595959", "#ffffff", 7.0},
	}
	for _, tt := range tests {
		got, err := contrast(tt.a, tt.b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tt.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", tt.a, tt.b, got, tt.want)
		}
	}
	for _, bad := range []string{"", "fff", "#fff", "#gggggg", "#1234567"} {
		if _, err := contrast(bad, "#ffffff"); err == nil {
			t.Errorf("contrast(%q) gave no error", bad)
		}
	}
}

// TestPaletteContrast checks every text colour of both themes against both
// backgrounds it is drawn on: WCAG 2 AA for normal text is 4.5:1.
func TestPaletteContrast(t *testing.T) {
	for name, th := range map[string]theme{"light": lightTheme, "dark": darkTheme} {
		for _, bg := range []struct{ name, color string }{{"bg", th.BG}, {"surface", th.Surface}} {
			for _, fg := range th.foregrounds() {
				c, err := contrast(fg.Color, bg.color)
				if err != nil {
					t.Fatalf("%s %s: %v", name, fg.Name, err)
				}
				if c < 4.5 {
					t.Errorf("%s theme: %s %s on %s %s has contrast %.2f:1, want >= 4.5:1", name, fg.Name, fg.Color, bg.name, bg.color, c)
				}
			}
		}
	}
}
