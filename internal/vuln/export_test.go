package vuln

// BaseLayers exports baseLayers to tests.
var BaseLayers = baseLayers
