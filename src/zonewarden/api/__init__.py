"""HTTP admin API and dashboard (to come); a surface like cli/."""
