"""The GraphQL read side (strawberry): recall queries over the genealogy graph."""
