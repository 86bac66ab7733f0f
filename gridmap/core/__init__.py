"""Infrastructure every domain uses: settings, the database, errors, ETags, masking."""
