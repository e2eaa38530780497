// Deprecated: use example.com/new instead.
module example.com/old

go 1.21

retract v1.1.0 // corrupts data on write
