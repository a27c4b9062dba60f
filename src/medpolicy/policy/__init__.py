"""Policy files: authored documents, validation with diagnostics, the validated tree."""
