print("AffonsoBench: not written yet")
