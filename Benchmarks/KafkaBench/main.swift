print("KafkaBench: not written yet")
