"""All SQL of sales-graph lives in these modules; services call them."""
