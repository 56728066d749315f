print("mailctl")
