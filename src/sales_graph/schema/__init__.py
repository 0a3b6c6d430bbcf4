"""The GraphQL type system: types, inputs, enums, scalars, the request context, the dataloaders
and the query limits. The root operations and the assembled schema are ``sales_graph.resolvers``.
"""
