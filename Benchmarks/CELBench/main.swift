print("CELBench: not written yet")
