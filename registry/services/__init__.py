"""Write-side operations on the register. Keyword-only; each act is one durable transaction."""
