"""What users do: faker-driven entries, seeded from the scenario, on which device and when."""
