"""Federation: partner tracegraph instances and traces that continue into them."""
