"""HTTP plumbing shared by GraphQL and REST: request context, the error envelope, health."""
