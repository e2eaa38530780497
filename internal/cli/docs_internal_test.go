package cli

import "testing"

func TestMarkdownBlocks(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\ntext", "plain\ntext"},
		{"IMAGE is one of:\n  a   x\n  b   y\n\nExit codes.", "IMAGE is one of:\n\n      a   x\n      b   y\n\nExit codes."},
		{"List:\n  a\nafter", "List:\n\n      a\n\nafter"},
		{"  first\n\n  second", "      first\n\n      second"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := markdownBlocks(tt.in); got != tt.want {
			t.Errorf("markdownBlocks(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
