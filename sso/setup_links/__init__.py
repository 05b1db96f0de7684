"""Set-up links for the customer's IdP administrator (WorkOS "Admin Portal" style): an owner or admin hands out an
expiring, revocable link bound to the first browser that starts it, through which someone without an account
enters the IdP's details of ONE connection and runs test sign-ins, and nothing else."""
