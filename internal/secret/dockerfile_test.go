package secret

import "testing"

func TestDockerfileDetector(t *testing.T) {
	d := NewDockerfileDetector()
	tests := []struct {
		name, value string
		byValue     bool
		secret      bool
	}{
		{"STRIPE_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", true, true},
		{"X", "ghp_R8kX2vQ9mL4zT7bN1wS5yU3eO6aD0fC2gH8j", true, true},
		{"NPM_TOKEN", "", false, true},
		{"DB_PASSWORD_FILE", "/run/secrets/db", false, false},
		{"PORT", "8080", false, false},
	}
	for _, tt := range tests {
		kind, byValue := d.Detect(tt.name, tt.value)
		if (kind != "") != tt.secret || byValue != tt.byValue {
			t.Errorf("Detect(%s=%s) = %q, %v; want secret=%v byValue=%v", tt.name, tt.value, kind, byValue, tt.secret, tt.byValue)
		}
	}
}
