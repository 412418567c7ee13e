package ttprepo

// analystBackend is what each dialect adds for the analyst features
// (drill-down, export, retention); it is embedded in backend.
type analystBackend interface{}
